"""Python assets of E-commerce: one module per asset or group of assets."""
