// Writes, stats and removes one file through the installed C++ client:
//
//   consumer PATH
//
// Exits 0 if the daemon at $DURABLED_SOCKET wrote PATH, PATH holds exactly
// the bytes sent, Stat agrees, and Remove removes it.
#include <durable/client.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer PATH\n");
    return 2;
  }
  const std::string path = argv[1];
  const std::string content = "written by a program outside the tree\n";

  durable::Client client;  // $DURABLED_SOCKET
  auto written = client.Write(path, content);
  if (!written.ok()) {
    std::fprintf(stderr, "write: %s\n", written.status().ToString().c_str());
    return 1;
  }
  std::ifstream in(path, std::ios::binary);
  const std::string on_disk((std::istreambuf_iterator<char>(in)),
                            std::istreambuf_iterator<char>());
  if (on_disk != content || !written->created ||
      written->size != content.size()) {
    std::fprintf(stderr, "%s does not hold what was written\n", path.c_str());
    return 1;
  }
  auto status = client.Stat(path);
  if (!status.ok() || status->etag != written->etag) {
    std::fprintf(stderr, "stat disagrees with the write\n");
    return 1;
  }
  auto removed = client.Remove(path);
  if (!removed.ok()) {
    std::fprintf(stderr, "remove: %s\n", removed.status().ToString().c_str());
    return 1;
  }
  std::printf("ok: wrote, checked and removed %s (etag %s)\n", path.c_str(),
              written->etag.c_str());
  return 0;
}
