"""What every role module shares: settings, data layer, identity, audit, crypto, events."""
