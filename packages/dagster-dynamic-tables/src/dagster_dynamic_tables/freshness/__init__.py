"""The freshness sensor, read as its pipeline: SHOW (`show`) -> what moved -> one history read
(`history`) -> evaluate (`window`, `tick`) -> events and the cursor (`cursor`, `sensor`).
"""
