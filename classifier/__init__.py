"""The post classifier and the duplicate finder: what a post is (matter or not, which kind),
whether it repeats an open issue, its data and shipped model, training and evaluation. Pure
decisions on words: imports only storage and ports, never handlers."""
