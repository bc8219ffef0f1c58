"""Training toolkit for the vidcolor model: data, train, evaluate, export."""
