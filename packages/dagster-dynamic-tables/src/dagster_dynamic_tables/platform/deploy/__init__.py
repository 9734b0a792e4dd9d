"""`dynamic-tables deploy render`: the deployment files of every tenant, and their typed models."""
