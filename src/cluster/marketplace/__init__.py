"""The tokenized data marketplace: datasets uploaded once (validated, encrypted, content-addressed, minted),
sold on chain, and served at four access levels checked against the chain."""
