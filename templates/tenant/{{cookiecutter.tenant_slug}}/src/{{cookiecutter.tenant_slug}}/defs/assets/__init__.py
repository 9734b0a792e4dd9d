"""Python assets of {{ cookiecutter.tenant_name }}: one module per asset or group of assets."""
