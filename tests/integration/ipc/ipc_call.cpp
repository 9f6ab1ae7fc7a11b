// ipc_call ENDPOINT METHOD [PARAMS-JSON]: one call through ipc::Client. Prints the result as JSON and
// exits 0, or prints "rpc-error CODE MESSAGE" / "client-error KIND MESSAGE" and exits 1 / 2.
#include <iostream>

#include "ipc/client.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: ipc_call ENDPOINT METHOD [PARAMS-JSON]\n";
    return 64;
  }
  try {
    edgeprov::ipc::Client client(argv[1], std::chrono::seconds(10));
    auto params = argc > 3 ? nlohmann::json::parse(argv[3]) : nlohmann::json();
    std::cout << client.call(argv[2], params).dump() << "\n";
    return 0;
  } catch (const edgeprov::ipc::ClientError& error) {
    if (error.rpc_error()) {
      std::cout << "rpc-error " << error.rpc_error()->code << " " << error.what() << "\n";
      return 1;
    }
    std::cout << "client-error " << static_cast<int>(error.kind()) << " " << error.what() << "\n";
    return 2;
  }
}
