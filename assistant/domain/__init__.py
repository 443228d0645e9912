"""Pure intake logic: session model, flow (session + message + candidates -> next session +
reply), rule-based extraction and the ``ChatModel`` port. No I/O library."""
