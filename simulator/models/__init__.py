"""Device models: state machines implementing the hal backend contracts."""
