"""Pure text functions (no Beam): normalization, dedup keys, ids and quality signals."""
