"""What the package index holds today: the newest releases, whether they install, the pins behind them."""
