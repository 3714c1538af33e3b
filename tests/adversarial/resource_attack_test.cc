// Resource attacks: messages over max_message_bytes, content over the
// rule's max_file_size (unary and streamed), slow-loris streams (idle,
// silent, trickling a byte at a time, many at once), streams that try to
// redirect themselves with a second header, connection floods from allowed
// and from unlisted uids, and malformed peers that speak garbage instead of
// HTTP/2. Each must be refused or cut off, leave no temp file, change
// nothing outside the roots, and leave the daemon serving a legitimate
// client.
//
// Limits of the default adversarial config: max_message_bytes 1 MiB,
// stream_idle_timeout_ms 700, 100 connections and 16 writes in progress per
// uid, data/ files up to 4 MiB, small/ up to 16 B.
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "tests/adversarial/adversarial_support.h"

namespace durable::test::adversarial {
namespace {

using testing::AllOf;
using testing::AnyOf;
using testing::Each;
using testing::Ge;
using testing::HasSubstr;
using testing::IsEmpty;
using testing::Le;
using testing::Lt;

constexpr int64_t kIdleTimeoutMs = 700;

class ResourceAttack : public AdversarialTest {
 protected:
  // The daemon's audit record of the (first) call on `path`.
  std::optional<AuditRecord> RecordFor(const std::string& path) {
    std::optional<AuditRecord> found;
    WaitUntil([&] {
      for (const AuditRecord& record : AuditRecords(daemon_->Log())) {
        if (record.path == path) {
          found = record;
          return true;
        }
      }
      return false;
    });
    return found;
  }

  void ExpectNoTempFiles() {
    EXPECT_TRUE(WaitUntil([&] {
      return TempFilesUnder(Data()).empty() && TempFilesUnder(Small()).empty();
    })) << "temp files left behind";
  }
};

// --- Sizes ------------------------------------------------------------------

TEST_F(ResourceAttack, UnaryMessageOverMaxMessageBytes) {
  ArmSentinel();
  HelperResult result =
      Attack("write", {PathArg(Data() + "/big"), "--size=1572864"});
  EXPECT_CODE(result, grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_FALSE(PathExists(Data() + "/big"));
  ExpectNoTempFiles();
  ExpectDaemonServes();
}

TEST_F(ResourceAttack, UnaryContentOverRuleMaxFileSize) {
  ArmSentinel();
  HelperResult result = Attack("write", {PathArg(Small() + "/f"), "--size=17"});
  EXPECT_CODE(result, grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(result.message(), HasSubstr("16 bytes"));
  EXPECT_FALSE(PathExists(Small() + "/f"));
  ExpectNoTempFiles();
}

TEST_F(ResourceAttack, StreamedContentOverRuleMaxFileSize) {
  ArmSentinel();
  HelperResult result = Attack("stream", {PathArg(Data() + "/huge"),
                                          "--size=6291456", "--chunk=262144"});
  EXPECT_CODE(result, grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_FALSE(PathExists(Data() + "/huge"));
  ExpectNoTempFiles();
  ExpectDaemonServes();
}

// --- Slow loris -------------------------------------------------------------

TEST_F(ResourceAttack, StreamIdleAfterHeaderIsCutByIdleTimeout) {
  ArmSentinel();
  HelperResult result = Attack("stream", {PathArg(Data() + "/idle"), "--idle"});
  EXPECT_CODE(result, grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_THAT(result.Int("elapsed_ms"),
              AllOf(Ge(kIdleTimeoutMs - 100), Lt(5000)));
  EXPECT_FALSE(PathExists(Data() + "/idle"));
  ExpectNoTempFiles();
}

TEST_F(ResourceAttack, StreamThatNeverSendsAMessageIsCut) {
  ArmSentinel();
  HelperResult result = Attack("stream", {"--send-nothing"});
  EXPECT_CODE(result, grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_THAT(result.Int("elapsed_ms"),
              AllOf(Ge(kIdleTimeoutMs - 100), Lt(5000)));
}

TEST_F(ResourceAttack, StreamTricklingOneByteAtATimeIsBoundedBySize) {
  // 1 byte every 40 ms keeps the idle timer happy; the 16-byte limit of
  // small/ still ends the stream (the client notices at its next writes).
  ArmSentinel();
  HelperResult result =
      Attack("stream", {PathArg(Small() + "/trickle"), "--size=60", "--chunk=1",
                        "--chunk-delay-ms=40"});
  EXPECT_CODE(result, grpc::StatusCode::RESOURCE_EXHAUSTED);
  std::optional<AuditRecord> record = RecordFor(Small() + "/trickle");
  ASSERT_TRUE(record.has_value()) << daemon_->Log();
  EXPECT_EQ(record->result, "RESOURCE_EXHAUSTED");
  EXPECT_THAT(record->latency_us, Lt(3000000)) << record->line;
  EXPECT_FALSE(PathExists(Small() + "/trickle"));
  ExpectNoTempFiles();
}

TEST_F(ResourceAttack, StreamTricklingSlowerThanIdleTimeoutIsCut) {
  ArmSentinel();
  HelperResult result =
      Attack("stream", {PathArg(Data() + "/trickle"), "--size=1", "--chunk=1",
                        "--chunk-delay-ms=2000"});
  EXPECT_CODE(result, grpc::StatusCode::DEADLINE_EXCEEDED);
  std::optional<AuditRecord> record = RecordFor(Data() + "/trickle");
  ASSERT_TRUE(record.has_value()) << daemon_->Log();
  EXPECT_EQ(record->result, "DEADLINE_EXCEEDED");
  EXPECT_THAT(record->latency_us,
              AllOf(Ge((kIdleTimeoutMs - 100) * 1000), Lt(1900 * 1000)))
      << record->line;
  EXPECT_FALSE(PathExists(Data() + "/trickle"));
  ExpectNoTempFiles();
}

TEST_F(ResourceAttack, ManyIdleStreamsAtOnceAreBoundedAndCut) {
  // 24 concurrent idle streams of one uid: at most 16 (the per-uid limit)
  // get a temp file, each cut by the idle timeout and its temp file
  // removed; the others are refused at once. Meanwhile another uid is
  // served.
  SKIP_UNLESS_ROOT();  // the attacker and the legitimate client differ in uid
  ArmSentinel();
  std::unique_ptr<HelperProcess> streams = HelperProcess::Spawn(
      AttackerCredentials(),
      Args("stream", {PathArg(Data() + "/held"), "--idle", "--parallel=24"}));
  ExpectDaemonServes("during-streams");
  const HelperResult& result = streams->Wait();
  ASSERT_EQ(result.exit_code, 0) << result.Describe();
  std::vector<std::string> codes = result.All("code_name");
  EXPECT_EQ(codes.size(), 24u);
  EXPECT_THAT(codes, Each(AnyOf(std::string("DEADLINE_EXCEEDED"),
                                std::string("RESOURCE_EXHAUSTED"))));
  EXPECT_THAT(std::count(codes.begin(), codes.end(), "RESOURCE_EXHAUSTED"),
              Ge(1))
      << "24 streams of one uid held temp files at once";
  EXPECT_FALSE(PathExists(Data() + "/held"));
  ExpectNoTempFiles();
}

TEST_F(ResourceAttack, StreamHalfClosedWithoutFinishPublishesNothing) {
  ArmSentinel();
  HelperResult result = Attack("stream", {PathArg(Data() + "/unfinished"),
                                          "--size=1000", "--no-finish"});
  EXPECT_CODE(result, grpc::StatusCode::ABORTED);
  EXPECT_FALSE(PathExists(Data() + "/unfinished"));
  ExpectNoTempFiles();
}

TEST_F(ResourceAttack, StreamRedirectedBySecondHeader) {
  // The first header names an allowed file, a second one tries to move the
  // stream outside.
  ArmSentinel();
  HelperResult result = Attack(
      "stream", {PathArg(Data() + "/innocent"),
                 "--second-path-hex=" + absl::BytesToHexString(Victim())});
  EXPECT_CODE(result, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(PathExists(Data() + "/innocent"));
  ExpectNoTempFiles();
}

// --- Connection floods ----------------------------------------------------

TEST_F(ResourceAttack, ConnectionFloodFromAllowedUid) {
  // 300 connections of one allowed uid (half of them having sent an HTTP/2
  // preface), held open: the daemon keeps at most 100 (its per-uid limit)
  // and closes the rest at accept, serves other uids throughout, and lets
  // the flooding uid back in once it lets go.
  SKIP_UNLESS_ROOT();  // the flooder and the legitimate client differ in uid
  const int baseline_fds = CountOpenFds(daemon_->pid());
  ArmSentinel();
  std::unique_ptr<HelperProcess> idle_flood = HelperProcess::Spawn(
      AttackerCredentials(), Args("flood", {"--count=150"}));
  ASSERT_TRUE(idle_flood->WaitForLine("ready=1", absl::Seconds(20)))
      << idle_flood->out();
  std::unique_ptr<HelperProcess> preface_flood = HelperProcess::Spawn(
      AttackerCredentials(),
      Args("flood",
           {"--count=150",
            "--bytes-hex=" +
                absl::BytesToHexString("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")}));
  ASSERT_TRUE(preface_flood->WaitForLine("ready=1", absl::Seconds(20)))
      << preface_flood->out();

  const absl::Time start = absl::Now();
  ExpectDaemonServes("during-flood");
  EXPECT_THAT(absl::ToInt64Milliseconds(absl::Now() - start), Lt(5000));
  // The flooding uid itself is at its limit.
  EXPECT_CODE(Attack("whoami"), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(daemon_->Log(), HasSubstr("connections open, the limit per uid"));

  idle_flood->CloseStdin();
  preface_flood->CloseStdin();
  const HelperResult& idle = idle_flood->Wait();
  const HelperResult& preface = preface_flood->Wait();
  EXPECT_EQ(idle.Field("connected"), "150") << idle.Describe();
  EXPECT_EQ(preface.Field("connected"), "150") << preface.Describe();
  EXPECT_EQ(idle.Int("closed_by_daemon") + preface.Int("closed_by_daemon"), 200)
      << idle.Describe() << preface.Describe();
  EXPECT_TRUE(WaitUntil([&] {
    return CountOpenFds(daemon_->pid()) <= baseline_fds + 8;
  })) << "the daemon still holds "
      << CountOpenFds(daemon_->pid()) << " fds (baseline " << baseline_fds
      << ")";
  ExpectDaemonServes("after-flood");
  EXPECT_TRUE(WaitUntil([&] {
    return Attack("whoami").code() == grpc::StatusCode::OK;
  })) << "the flooding uid was never let back in";
}

TEST_F(ResourceAttack, ConnectionFloodFromUnlistedUid) {
  SKIP_UNLESS_ROOT();
  const int baseline_fds = CountOpenFds(daemon_->pid());
  ArmSentinel();
  std::unique_ptr<HelperProcess> flood = HelperProcess::Spawn(
      CredentialsOf(kStranger),
      Args("flood",
           {"--count=400",
            "--bytes-hex=" +
                absl::BytesToHexString("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")}));
  ASSERT_TRUE(flood->WaitForLine("ready=1", absl::Seconds(20))) << flood->out();
  ExpectDaemonServes("during-flood");
  // Every one of them is closed at accept.
  EXPECT_TRUE(WaitUntil(
      [&] { return CountOpenFds(daemon_->pid()) <= baseline_fds + 8; }));
  absl::SleepFor(absl::Milliseconds(200));
  flood->CloseStdin();
  const HelperResult& result = flood->Wait();
  EXPECT_EQ(result.Field("connected"), "400") << result.Describe();
  EXPECT_EQ(result.Field("closed_by_daemon"), "400") << result.Describe();
}

// --- Malformed peers ------------------------------------------------------

struct MalformedPeer {
  const char* name;
  std::string bytes;
  bool shutdown_write;
};

std::string RandomBytes(size_t n) {
  absl::BitGen bits;
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(absl::Uniform<uint8_t>(bits));
  return out;
}

const std::string kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const std::string kEmptySettings("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);

class MalformedPeerAttack : public ResourceAttack,
                            public testing::WithParamInterface<MalformedPeer> {
};

TEST_P(MalformedPeerAttack, IsHungUpOnAndDaemonKeepsServing) {
  ArmSentinel();
  std::vector<std::string> args = {
      "--bytes-hex=" + absl::BytesToHexString(GetParam().bytes),
      "--hold-ms=3000"};
  if (GetParam().shutdown_write) args.push_back("--shutdown-write");
  // Several times, interleaved with legitimate calls.
  for (int i = 0; i < 3; ++i) {
    HelperResult result = Attack("raw", args);
    EXPECT_EQ(result.Field("connected"), "1") << result.Describe();
    EXPECT_EQ(result.Field("peer_closed"), "1")
        << "the daemon kept a malformed connection open\n"
        << result.Describe();
    ExpectDaemonServes(absl::StrCat("served-", i));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Peers, MalformedPeerAttack,
    testing::Values(
        MalformedPeer{"RandomGarbage", RandomBytes(4096), false},
        MalformedPeer{"HalfPrefaceThenHalfClose", "PRI * HTTP/2.0\r\n", true},
        MalformedPeer{"Http1Request",
                      "GET / HTTP/1.1\r\nHost: durabled\r\n\r\n", false},
        MalformedPeer{
            "TlsClientHello",
            std::string("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 11) +
                RandomBytes(160),
            false},
        MalformedPeer{
            "PrefaceThenOversizedFrame",
            kPreface + kEmptySettings +
                std::string("\xff\xff\xff\x00\x00\x00\x00\x00\x01", 9) +
                RandomBytes(1024),
            false},
        MalformedPeer{"PrefaceThenGarbageFrames",
                      kPreface + kEmptySettings + RandomBytes(2048), false},
        MalformedPeer{"PrefaceThenHalfClose", kPreface + kEmptySettings, true}),
    [](const testing::TestParamInfo<MalformedPeer>& info) {
      return std::string(info.param.name);
    });

}  // namespace
}  // namespace durable::test::adversarial

int main(int argc, char** argv) {
  return durable::test::adversarial::AdversarialMain(argc, argv);
}
