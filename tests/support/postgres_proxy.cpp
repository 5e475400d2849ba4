#include "tests/support/postgres_proxy.h"

#include <array>
#include <atomic>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>

#include <boost/asio.hpp>

namespace ps::test {

namespace {

using Socket = boost::asio::local::stream_protocol::socket;

// The value of `name=` in a URL's query, "" when absent.
std::string query_value(const std::string& url, const std::string& name) {
  auto at = url.find(name + "=", url.find('?'));
  if (at == std::string::npos) return "";
  at += name.size() + 1;
  return url.substr(at, url.find('&', at) - at);
}

std::string with_socket_dir(std::string url, const std::string& old_dir, const std::string& new_dir) {
  url.replace(url.find("host=" + old_dir) + 5, old_dir.size(), new_dir);
  return url;
}

}  // namespace

struct PostgresProxy::Relay {
  boost::asio::io_context io;
  boost::asio::local::stream_protocol::acceptor acceptor{io};
  std::string upstream;
  std::atomic<bool> up{true};
  std::atomic<int> accepted{0};
  // Both sockets of every open connection, so going down can cut them all.
  std::set<std::shared_ptr<Socket>> open;
  std::thread thread;

  void accept() {
    auto client = std::make_shared<Socket>(io);
    acceptor.async_accept(*client, [this, client](boost::system::error_code ec) {
      if (ec) return;
      accept();
      if (!up) return;  // the client sees its connection closed
      ++accepted;
      auto server = std::make_shared<Socket>(io);
      boost::system::error_code connect_error;
      server->connect(boost::asio::local::stream_protocol::endpoint(upstream), connect_error);
      if (connect_error) return;
      open.insert(client);
      open.insert(server);
      pump(client, server);
      pump(server, client);
    });
  }

  // Copies from one socket to the other until either closes.
  void pump(std::shared_ptr<Socket> from, std::shared_ptr<Socket> to) {
    auto buffer = std::make_shared<std::array<char, 65536>>();
    from->async_read_some(boost::asio::buffer(*buffer), [this, from, to, buffer](boost::system::error_code ec,
                                                                                 std::size_t n) {
      if (ec) return close(from, to);
      boost::asio::async_write(*to, boost::asio::buffer(*buffer, n),
                               [this, from, to, buffer](boost::system::error_code write_error, std::size_t) {
                                 if (write_error) return close(from, to);
                                 pump(from, to);
                               });
    });
  }

  void close(const std::shared_ptr<Socket>& a, const std::shared_ptr<Socket>& b) {
    boost::system::error_code ignored;
    a->close(ignored);
    b->close(ignored);
    open.erase(a);
    open.erase(b);
  }
};

PostgresProxy::PostgresProxy(const std::string& database_url) : relay_(std::make_unique<Relay>()) {
  std::string socket_dir = query_value(database_url, "host");
  if (socket_dir.empty() || socket_dir[0] != '/') {
    throw std::runtime_error("PostgresProxy needs a URL with host=<socket folder>: " + database_url);
  }
  std::string port = query_value(database_url, "port");
  std::string file = "/.s.PGSQL." + (port.empty() ? std::string("5432") : port);
  relay_->upstream = socket_dir + file;
  std::string own = dir_.path().string();
  relay_->acceptor.open();
  relay_->acceptor.bind(boost::asio::local::stream_protocol::endpoint(own + file));
  relay_->acceptor.listen();
  url_ = with_socket_dir(database_url, socket_dir, own);
  relay_->accept();
  relay_->thread = std::thread([r = relay_.get()] { r->io.run(); });
}

PostgresProxy::~PostgresProxy() {
  relay_->io.stop();
  relay_->thread.join();
}

void PostgresProxy::set_up(bool up) {
  relay_->up = up;
  if (up) return;
  std::promise<void> cut;
  boost::asio::post(relay_->io, [this, &cut] {
    boost::system::error_code ignored;
    for (const auto& socket : relay_->open) socket->close(ignored);
    relay_->open.clear();
    cut.set_value();
  });
  cut.get_future().wait();
}

int PostgresProxy::connections() const { return relay_->accepted; }

}  // namespace ps::test
