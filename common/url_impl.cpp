// The one translation unit that compiles Boost.URL (its header-only mode, <boost/url/src.hpp>), so the
// Linux build needs no libboost-url package and the Windows cross-build uses the same headers.
#include <boost/url/src.hpp>
