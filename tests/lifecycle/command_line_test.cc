// durabled's own command line: --version and --help, as an operator runs
// them.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/subprocess.h"

namespace durable::test {
namespace {

using testing::HasSubstr;

CommandResult Durabled(const std::string& flag) {
  Command command;
  command.argv = {DURABLED_BINARY, flag};
  return RunCommand(command);
}

TEST(CommandLineTest, VersionIsTheProjectVersion) {
  CommandResult result = Durabled("--version");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "durabled " DURABLED_VERSION "\n");
}

TEST(CommandLineTest, HelpListsEveryFlagOnOneLine) {
  CommandResult result = Durabled("--help");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("usage: durabled --config=FILE"));
  for (const char* flag : {"check", "config", "drain_timeout", "flush_strategy",
                           "socket", "worker_threads", "help", "version"}) {
    // Each flag starts a line of its own, with its default and its help.
    EXPECT_THAT(result.out, testing::ContainsRegex(std::string("\n  --") +
                                                   flag + "[ :][^\n]+\n"))
        << flag;
  }
  EXPECT_THAT(result.out,
              HasSubstr("  --config (default /etc/durabled/durabled.conf): "));
  EXPECT_THAT(result.out, testing::Not(HasSubstr("No flags matched")));
}

}  // namespace
}  // namespace durable::test
