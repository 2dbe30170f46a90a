/**
 * Process signals of a long-running subcommand: `stop` on SIGTERM or SIGINT (systemd stop, Ctrl-C), `hangup` on
 * SIGHUP when given. Returns the function that stops listening.
 */
export function onSignals(handlers: { stop: (signal: string) => void; hangup?: () => void }): () => void {
  const { stop, hangup } = handlers;
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  if (hangup !== undefined) process.on("SIGHUP", hangup);
  return () => {
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
    if (hangup !== undefined) process.off("SIGHUP", hangup);
  };
}
