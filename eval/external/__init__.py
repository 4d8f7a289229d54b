"""External question sets (vendored with their licences); see make_sets.py."""
