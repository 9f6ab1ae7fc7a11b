#include "dps/sigpipe.h"

namespace edgeprov::dps {

void ignore_sigpipe() {}  // Windows sockets never raise a signal on a closed connection.

}  // namespace edgeprov::dps
