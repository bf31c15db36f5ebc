"""What refuses or flags a request before money moves: risk scoring, card data, rate limits."""
