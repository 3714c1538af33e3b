#include "server/transport/peer_registry.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/base/peer_credentials.h"

namespace durable {
namespace {

using testing::ElementsAre;

PeerCredentials Credentials(pid_t pid, uid_t uid, gid_t gid,
                            std::vector<gid_t> groups = {}) {
  PeerCredentials credentials;
  credentials.pid = pid;
  credentials.uid = uid;
  credentials.gid = gid;
  credentials.groups = std::move(groups);
  return credentials;
}

TEST(PeerRegistryTest, LookupAfterRegister) {
  PeerRegistry registry;
  registry.Register(7, Credentials(100, 1000, 2000, {3000, 3001}));

  std::optional<PeerCredentials> found = registry.Lookup("fd:7");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->pid, 100);
  EXPECT_EQ(found->uid, 1000u);
  EXPECT_EQ(found->gid, 2000u);
  EXPECT_THAT(found->groups, ElementsAre(3000u, 3001u));
}

TEST(PeerRegistryTest, DistinguishesFds) {
  PeerRegistry registry;
  registry.Register(7, Credentials(1, 1000, 1000));
  registry.Register(17, Credentials(2, 2000, 2000));
  registry.Register(70, Credentials(3, 3000, 3000));

  ASSERT_TRUE(registry.Lookup("fd:7").has_value());
  EXPECT_EQ(registry.Lookup("fd:7")->uid, 1000u);
  ASSERT_TRUE(registry.Lookup("fd:17").has_value());
  EXPECT_EQ(registry.Lookup("fd:17")->uid, 2000u);
  ASSERT_TRUE(registry.Lookup("fd:70").has_value());
  EXPECT_EQ(registry.Lookup("fd:70")->uid, 3000u);
}

TEST(PeerRegistryTest, ReRegisterOverwrites) {
  PeerRegistry registry;
  registry.Register(9, Credentials(1, 1000, 1000, {5}));
  registry.Register(9, Credentials(2, 2000, 2001));

  std::optional<PeerCredentials> found = registry.Lookup("fd:9");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->pid, 2);
  EXPECT_EQ(found->uid, 2000u);
  EXPECT_EQ(found->gid, 2001u);
  EXPECT_TRUE(found->groups.empty());
}

TEST(PeerRegistryTest, LookupReturnsACopy) {
  PeerRegistry registry;
  registry.Register(4, Credentials(1, 1000, 1000));
  std::optional<PeerCredentials> before = registry.Lookup("fd:4");
  registry.Register(4, Credentials(2, 2000, 2000));
  ASSERT_TRUE(before.has_value());
  EXPECT_EQ(before->uid, 1000u);
}

TEST(PeerRegistryTest, UnknownFdIsNotFound) {
  PeerRegistry registry;
  EXPECT_EQ(registry.Lookup("fd:7"), std::nullopt);
  registry.Register(7, Credentials(1, 1000, 1000));
  EXPECT_EQ(registry.Lookup("fd:8"), std::nullopt);
  EXPECT_EQ(registry.Lookup("fd:70"), std::nullopt);
  EXPECT_EQ(registry.Lookup("fd:0"), std::nullopt);
}

TEST(PeerRegistryTest, OtherPeerStringsAreNotFound) {
  PeerRegistry registry;
  registry.Register(0, Credentials(1, 1000, 1000));
  registry.Register(5, Credentials(1, 1000, 1000));
  for (const char* peer :
       {"unix:", "unix:/run/durabled/durabled.sock", "ipv4:127.0.0.1:5",
        "ipv6:[::1]:5", "fd:", "fd:abc", "fd:5abc", "fd5", "5", "", "FD:5",
        "xfd:5", "fd:5:5"}) {
    EXPECT_EQ(registry.Lookup(peer), std::nullopt) << "peer \"" << peer << "\"";
  }
}

TEST(PeerRegistryTest, IdentifyRefusesUnknownPeersAsUnauthenticated) {
  PeerRegistry registry;
  registry.Register(5, Credentials(1, 1000, 1000));
  absl::StatusOr<PeerCredentials> known = registry.Identify("fd:5");
  ASSERT_TRUE(known.ok()) << known.status();
  EXPECT_EQ(known->uid, 1000u);
  for (const char* peer : {"fd:6", "unix:", ""}) {
    absl::StatusOr<PeerCredentials> unknown = registry.Identify(peer);
    EXPECT_EQ(unknown.status().code(), absl::StatusCode::kUnauthenticated)
        << peer;
    EXPECT_NE(unknown.status().message().find("identified"),
              absl::string_view::npos);
  }
}

}  // namespace
}  // namespace durable
