"""Pure domain layer: value types, units, identifiers and geometry rules. No I/O."""
