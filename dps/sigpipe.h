// dps/sigpipe.h — Paho writes to its sockets through OpenSSL socket BIOs (write(2)), which raises SIGPIPE
// when the server has already closed the connection; the default action would kill edgeprovd.
#pragma once

namespace edgeprov::dps {

// Ignores SIGPIPE process-wide unless the program installed its own handler (POSIX); no-op on Windows,
// which has no SIGPIPE. Write errors then arrive as EPIPE, which Paho reports as a lost connection.
void ignore_sigpipe();

}  // namespace edgeprov::dps
