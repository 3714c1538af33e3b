// A caller that connects, then moves itself to another cgroup and goes on
// using the same connection: for the test that rights are bound at accept.
//
//   cgroup_hop_client SOCKET CGROUP_PROCS PATH
//
// Prints "before <unit-or-cgroup>", moves itself by writing 0 to
// CGROUP_PROCS, prints "moved", writes "hop" to PATH and prints "write
// <code>", then "after <cgroup>" from a second WhoAmI on the connection.
#include <fstream>
#include <iostream>

#include "absl/status/status.h"
#include "durable/client.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: cgroup_hop_client SOCKET CGROUP_PROCS PATH\n";
    return 2;
  }
  durable::ClientOptions options;
  options.socket_path = argv[1];
  durable::Client client(options);
  absl::StatusOr<durable::CallerInfo> before = client.WhoAmI();
  if (!before.ok()) {
    std::cerr << before.status() << "\n";
    return 1;
  }
  std::cout << "before " << before->cgroup << std::endl;
  {
    std::ofstream procs(argv[2]);
    procs << "0" << std::flush;
    if (!procs) {
      std::cerr << "cannot move to " << argv[2] << "\n";
      return 1;
    }
  }
  std::cout << "moved" << std::endl;
  absl::StatusOr<durable::WriteResult> written = client.Write(argv[3], "hop");
  std::cout << "write " << absl::StatusCodeToString(written.status().code())
            << std::endl;
  if (!written.ok()) std::cerr << written.status() << "\n";
  absl::StatusOr<durable::CallerInfo> after = client.WhoAmI();
  if (after.ok()) std::cout << "after " << after->cgroup << std::endl;
  return 0;
}
