"""Python assets of Finance: one module per asset or group of assets."""
