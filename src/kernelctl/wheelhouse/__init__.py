"""The site wheelhouse: where it is, what it holds, and whether it covers a set of requirements."""
