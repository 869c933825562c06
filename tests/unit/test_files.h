// Files for unit tests: a temporary directory removed with the test, and (for the geo and policy
// tests, which get MERIDIAN_TEST_TOOLS_DIR) GeoIP databases built at test time from JSON.
#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace meridian::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "meridian-test.XXXXXX").string();
    path_ = mkdtemp(pattern.data()) ? pattern : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes `text` to `name` inside the directory and returns its path.
  std::string write(const std::string& name, const std::string& text) const {
    const std::string file = path_ + "/" + name;
    std::ofstream(file) << text;
    return file;
  }

 private:
  std::string path_;
};

#ifdef MERIDIAN_TEST_TOOLS_DIR
// Builds NAME.mmdb in `dir` from a JSON description with tests/tools/make_test_mmdb.pl; returns
// its path, or "" when the builder failed (its stderr is in NAME.err).
inline std::string build_test_mmdb(const TempDir& dir, const std::string& name,
                                   const std::string& json) {
  const std::string in = dir.write(name + ".json", json);
  const std::string out = dir.path() + "/" + name + ".mmdb";
  const std::string cmd = "perl " MERIDIAN_TEST_TOOLS_DIR "/make_test_mmdb.pl '" + in + "' '" +
                          out + "' 2>'" + dir.path() + "/" + name + ".err'";
  return std::system(cmd.c_str()) == 0 ? out : "";
}
#endif

}  // namespace meridian::testing
