"""Operations: metrics, doctor, backup and restore commands, logs. Built on every layer below the
root; nothing but the root and the CLI imports it."""
