"""candlekit: a Jupyter-first toolkit for crypto candle (OHLCV) data, centred on Hyperliquid."""
