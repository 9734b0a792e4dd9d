"""`dynamic-tables plan` / `apply`: read Snowflake, compare with the declarations (`build`), and
show or apply the difference (`apply`).
"""
