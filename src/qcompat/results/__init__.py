"""A run's results: the results file (written and read), the matrix, the gate, the HTML page, greedy parity between
sessions and runs, and the release sweep's table."""
