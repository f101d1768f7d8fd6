"""Engine runners. Each imports its heavy stack lazily; the core package never imports them."""
