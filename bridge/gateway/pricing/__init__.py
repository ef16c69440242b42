"""What each deployment's tokens cost in dollars: the kept price table, PRICES, and a request's cost."""
