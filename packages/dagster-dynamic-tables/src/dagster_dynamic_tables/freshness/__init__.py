"""The freshness sensor, read as its pipeline, each stage a module that calls only the ones below
it: SHOW (`show`) -> what moved (`moved`) -> one history read (`history`) -> evaluate (`tick`,
with the read window in `window`) -> events (`events`), the run of data tests a tick requests
(`data_test_runs`) and the cursor (`cursor`). The sensor (`sensor`) orchestrates them and does
the I/O.
"""
