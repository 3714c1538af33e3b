// durablectl's own pieces: relative PATH resolution and JSON output.
#include <string>

#include "cli_path.h"
#include "gtest/gtest.h"
#include "json_writer.h"

namespace durable::cli {
namespace {

TEST(ResolveCliPathTest, AbsoluteAndNamedPathsPassUnchanged) {
  EXPECT_EQ(ResolveCliPathAgainst("/a/b", "/work"), "/a/b");
  EXPECT_EQ(ResolveCliPathAgainst("state:agent/x.json", "/work"),
            "state:agent/x.json");
  EXPECT_EQ(ResolveCliPathAgainst("my-root_2:x", "/work"), "my-root_2:x");
  // Empty stays empty, for the daemon to refuse with its own message.
  EXPECT_EQ(ResolveCliPathAgainst("", "/work"), "");
}

TEST(ResolveCliPathTest, RelativePathsJoinTheWorkingDirectory) {
  EXPECT_EQ(ResolveCliPathAgainst("x.json", "/work/dir"), "/work/dir/x.json");
  EXPECT_EQ(ResolveCliPathAgainst("sub/x", "/work/dir"), "/work/dir/sub/x");
  EXPECT_EQ(ResolveCliPathAgainst("./x", "/work/dir"), "/work/dir/x");
  EXPECT_EQ(ResolveCliPathAgainst("././x", "/work/dir"), "/work/dir/x");
  EXPECT_EQ(ResolveCliPathAgainst("x", "/"), "/x");
}

TEST(ResolveCliPathTest, LeadingDotDotClimbsTheWorkingDirectory) {
  EXPECT_EQ(ResolveCliPathAgainst("../x", "/work/dir"), "/work/x");
  EXPECT_EQ(ResolveCliPathAgainst("../../x", "/work/dir"), "/x");
  EXPECT_EQ(ResolveCliPathAgainst("../../../x", "/work/dir"), "/x");
  EXPECT_EQ(ResolveCliPathAgainst("./../x", "/work/dir"), "/work/x");
}

TEST(ResolveCliPathTest, DotComponentsFurtherInAreLeftForTheDaemon) {
  // Below the working directory "a" could be a symlink: resolving "a/.."
  // here would name another file than the kernel would.
  EXPECT_EQ(ResolveCliPathAgainst("a/../x", "/w"), "/w/a/../x");
  EXPECT_EQ(ResolveCliPathAgainst("a/./x", "/w"), "/w/a/./x");
}

TEST(ResolveCliPathTest, OnlyAValidRootNameMakesTheNamedForm) {
  // Not root names (upper case, dot, too long, empty): relative paths.
  EXPECT_EQ(ResolveCliPathAgainst("Notes:x", "/w"), "/w/Notes:x");
  EXPECT_EQ(ResolveCliPathAgainst("a.b:x", "/w"), "/w/a.b:x");
  EXPECT_EQ(ResolveCliPathAgainst(":x", "/w"), "/w/:x");
  EXPECT_EQ(ResolveCliPathAgainst(std::string(65, 'a') + ":x", "/w"),
            "/w/" + std::string(65, 'a') + ":x");
  EXPECT_EQ(ResolveCliPathAgainst(std::string(64, 'a') + ":x", "/w"),
            std::string(64, 'a') + ":x");
  // "./" forces the relative meaning.
  EXPECT_EQ(ResolveCliPathAgainst("./notes:x", "/w"), "/w/notes:x");
}

TEST(ResolveCliPathTest, UsesTheProcessWorkingDirectory) {
  absl::StatusOr<std::string> resolved = ResolveCliPath("x");
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->front(), '/');
  EXPECT_EQ(resolved->substr(resolved->size() - 2), "/x");
}

TEST(JsonQuoteTest, EscapesWhatJsonRequires) {
  EXPECT_EQ(JsonQuote("plain"), "\"plain\"");
  EXPECT_EQ(JsonQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonQuote("line\nnext\ttab"), "\"line\\nnext\\ttab\"");
  EXPECT_EQ(JsonQuote(std::string("\x01\x1f\x7f", 3)),
            "\"\\u0001\\u001f\\u007f\"");
  EXPECT_EQ(JsonQuote(std::string("nul\0in", 6)), "\"nul\\u0000in\"");
}

TEST(JsonQuoteTest, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(JsonQuote("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  EXPECT_EQ(JsonQuote("\xff"), "\"\\ufffd\"");
  EXPECT_EQ(JsonQuote("a\xc3"), "\"a\\ufffd\"");           // truncated
  EXPECT_EQ(JsonQuote("\xc0\xaf"), "\"\\ufffd\\ufffd\"");  // overlong '/'
  EXPECT_EQ(JsonQuote("\xed\xa0\x80"),
            "\"\\ufffd\\ufffd\\ufffd\"");  // surrogate
}

TEST(JsonWriterTest, WritesNestedObjectsAndArrays) {
  JsonWriter out;
  out.BeginObject();
  out.NumberField("size", uint64_t{3});
  out.NumberField("offset", int64_t{-1});
  out.StringField("etag", "00ff");
  out.BoolField("created", true);
  out.Key("groups");
  out.BeginArray();
  out.Number(uint64_t{1});
  out.Number(uint64_t{2});
  out.EndArray();
  out.Key("grants");
  out.BeginArray();
  out.BeginObject();
  out.StringField("name", "rw");
  out.EndObject();
  out.BeginObject();
  out.EndObject();
  out.EndArray();
  out.Key("empty");
  out.BeginArray();
  out.EndArray();
  out.EndObject();
  EXPECT_EQ(out.text(),
            "{\"size\":3,\"offset\":-1,\"etag\":\"00ff\",\"created\":true,"
            "\"groups\":[1,2],\"grants\":[{\"name\":\"rw\"},{}],\"empty\":[]}");
}

}  // namespace
}  // namespace durable::cli
