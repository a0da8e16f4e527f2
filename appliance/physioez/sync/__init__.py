"""Replication to head office: the branch's outbox, in signed and sealed batches over MQTT 5,
applied exactly once to head office's MySQL, acknowledged end to end."""
