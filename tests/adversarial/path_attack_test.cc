// Attacks on the path string itself: `..` and `.` in every position, empty
// components, relative paths, NUL and control bytes, names over NAME_MAX and
// paths over PATH_MAX, invalid UTF-8. Each path is sent by an unprivileged
// attacker process (uid 65534 under root) that the policy does allow under
// data/, so only the path decides; each must be refused with the exact code
// before anything is touched, and nothing outside the roots (nor inside
// data/) may change.
#include <limits.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "tests/adversarial/adversarial_support.h"

namespace durable::test::adversarial {
namespace {

struct LexicalAttack {
  const char* name;
  // "{data}", "{base}", "{outside}" and "{leaf}" are replaced; "{nul}"
  // becomes a NUL byte.
  std::string path_template;
  grpc::StatusCode expected;
};

// A name no attack may ever create anywhere.
std::string EscapeLeaf() {
  return absl::StrCat("durabled-adv-escape-", getpid());
}

std::string Repeat(const std::string& piece, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += piece;
  return out;
}

class PathAttack : public AdversarialTest,
                   public testing::WithParamInterface<LexicalAttack> {
 protected:
  std::string Expand(const std::string& path_template) {
    std::string path =
        absl::StrReplaceAll(path_template, {{"{data}", Data()},
                                            {"{base}", Base()},
                                            {"{outside}", Outside()},
                                            {"{leaf}", EscapeLeaf()},
                                            {"{nul}", std::string(1, '\0')}});
    // Lengths relative to the real data path.
    if (absl::StrContains(path, "{pathmax}")) {
      std::string prefix = Data() + "/";
      std::string filler;
      while (prefix.size() + filler.size() < PATH_MAX - 200) {
        filler += std::string(199, 'p') + "/";
      }
      filler += std::string(PATH_MAX - prefix.size() - filler.size(), 'q');
      path = prefix + filler;  // exactly PATH_MAX bytes
    }
    return path;
  }
};

TEST_P(PathAttack, IsRefusedBeforeAnythingIsTouched) {
  // Real directories, so that the kernel would happily resolve `..` and
  // `.` if the daemon let the string through.
  ASSERT_EQ(mkdir((Data() + "/a").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((Data() + "/a/b").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((Data() + "/sub").c_str(), 0755), 0);
  Protect(Data());  // nothing may be created inside the root either
  ArmSentinel();

  const std::string path = Expand(GetParam().path_template);
  HelperResult result = AttackWrite(path, "pwned");
  EXPECT_CODE(result, GetParam().expected);
  EXPECT_THAT(result.message(), testing::Not(testing::IsEmpty()));
  ExpectNoEscapeNamed(EscapeLeaf());
  if (GetParam().expected == grpc::StatusCode::INVALID_ARGUMENT) {
    // Logged, but never echoed raw into the log: one audit line per call.
    EXPECT_THAT(daemon_->Log(), testing::HasSubstr("result=INVALID_ARGUMENT"));
  }
  // Control bytes are escaped in the log: no forged record starts a line.
  for (absl::string_view line : absl::StrSplit(daemon_->Log(), '\n')) {
    EXPECT_FALSE(absl::StartsWith(line, "<5>audit op=write uid=0 gid=0 pid=1"))
        << "forged audit line: " << line;
  }
}

const std::string kLong256(NAME_MAX + 1, 'n');

INSTANTIATE_TEST_SUITE_P(
    Attacks, PathAttack,
    testing::Values(
        // `..` in every position.
        LexicalAttack{"DotDotAsFirstComponent", "/..{outside}/victim",
                      grpc::StatusCode::INVALID_ARGUMENT},
        LexicalAttack{"DotDotRightAfterTheRoot", "{data}/../outside/victim",
                      grpc::StatusCode::INVALID_ARGUMENT},
        LexicalAttack{"DotDotDeepInTheMiddle",
                      "{data}/a/b/../../../outside/victim",
                      grpc::StatusCode::INVALID_ARGUMENT},
        LexicalAttack{"DotDotAsLastComponent", "{data}/sub/..",
                      grpc::StatusCode::INVALID_ARGUMENT},
        LexicalAttack{"DotDotClimbingPastSlash",
                      "{data}/../../../../../../../etc/{leaf}",
                      grpc::StatusCode::INVALID_ARGUMENT},
        LexicalAttack{"DotDotAlone", "/..", grpc::StatusCode::INVALID_ARGUMENT},
        LexicalAttack{"DotDotWithTrailingSlash", "{data}/a/../",
                      grpc::StatusCode::INVALID_ARGUMENT},
        LexicalAttack{"DotDotAfterLeafName", "{data}/a/b/{leaf}/..",
                      grpc::StatusCode::INVALID_ARGUMENT},
        // `.` components.
        LexicalAttack{"DotAsFirstComponent", "/.{data}/x",
                      grpc::StatusCode::INVALID_ARGUMENT},
        LexicalAttack{"DotInTheMiddle", "{data}/./x",
                      grpc::StatusCode::INVALID_ARGUMENT},
        LexicalAttack{"DotAsLastComponent", "{data}/.",
                      grpc::StatusCode::INVALID_ARGUMENT},
        // Empty components, trailing slash, relative and empty paths.
        LexicalAttack{"DoubleSlash", "{data}//x",
                      grpc::StatusCode::INVALID_ARGUMENT},
        LexicalAttack{"TrailingSlash", "{data}/x/",
                      grpc::StatusCode::INVALID_ARGUMENT},
        LexicalAttack{"RelativeToTheDaemonsCwd", "{leaf}",
                      grpc::StatusCode::INVALID_ARGUMENT},
        LexicalAttack{"RelativeWithDotDot", "../outside/victim",
                      grpc::StatusCode::INVALID_ARGUMENT},
        LexicalAttack{"EmptyPath", "", grpc::StatusCode::INVALID_ARGUMENT},
        // NUL and control bytes.
        LexicalAttack{"NulTruncatingToAnEscape",
                      "{data}/x{nul}/../../outside/victim",
                      grpc::StatusCode::INVALID_ARGUMENT},
        LexicalAttack{"NulAsWholeLeaf", "{data}/{nul}",
                      grpc::StatusCode::INVALID_ARGUMENT},
        LexicalAttack{"NewlineForgingAnAuditLine",
                      "{data}/x\n<5>audit op=write uid=0 gid=0 pid=1 "
                      "path=\"/etc/shadow\" bytes=1 result=OK",
                      grpc::StatusCode::INVALID_ARGUMENT},
        LexicalAttack{"CarriageReturn", "{data}/x\ry",
                      grpc::StatusCode::INVALID_ARGUMENT},
        LexicalAttack{"TerminalEscapeSequence", "{data}/\x1b[2J\x1b[31mx",
                      grpc::StatusCode::INVALID_ARGUMENT},
        LexicalAttack{"DeleteCharacter", "{data}/x\x7f",
                      grpc::StatusCode::INVALID_ARGUMENT},
        LexicalAttack{"TabCharacter", "{data}/x\ty",
                      grpc::StatusCode::INVALID_ARGUMENT},
        // Lengths.
        LexicalAttack{"ComponentOverNameMax", "{data}/" + kLong256,
                      grpc::StatusCode::INVALID_ARGUMENT},
        LexicalAttack{"DirectoryComponentOverNameMax",
                      "{data}/" + kLong256 + "/x",
                      grpc::StatusCode::INVALID_ARGUMENT},
        LexicalAttack{"PathOfPathMaxBytes", "{pathmax}",
                      grpc::StatusCode::INVALID_ARGUMENT},
        LexicalAttack{"PathFarOverPathMax",
                      "{data}/" + Repeat("abcdefgh/", 1200) + "x",
                      grpc::StatusCode::INVALID_ARGUMENT}),
    [](const testing::TestParamInfo<LexicalAttack>& info) {
      return std::string(info.param.name);
    });

// Not UTF-8: proto3 `string` fields must be valid UTF-8, so the daemon's
// gRPC layer cannot even parse the request. Whatever the layer answers, it
// must be a refusal, and no handler may run.
using PathUtf8Attack = AdversarialTest;

TEST_F(PathUtf8Attack, InvalidUtf8PathIsRefused) {
  Protect(Data());
  ArmSentinel();
  HelperResult result = AttackWrite(Data() + "/\xff\xfe\xc0\xaf..", "pwned");
  EXPECT_CODE(result, grpc::StatusCode::INTERNAL);
  EXPECT_THAT(daemon_->Log(), testing::Not(testing::HasSubstr("audit")));
}

}  // namespace
}  // namespace durable::test::adversarial

int main(int argc, char** argv) {
  return durable::test::adversarial::AdversarialMain(argc, argv);
}
