// test-kafka-broker: a Kafka-protocol broker cluster for tests, in its own
// process so tests talk to it over TCP exactly as to a real broker.
//
//   test-kafka-broker [--brokers N] [--topic name:partitions]... [--bootstrap-file PATH]
//
// Prints the bootstrap servers (and writes them to PATH), then runs until
// SIGTERM or SIGINT. SIGUSR1 takes every broker down, SIGUSR2 brings them back;
// SIGHUP has the next produce request refused.

#include <signal.h>

#include <cstring>
#include <fstream>
#include <iostream>

#include "ingestion/mock_broker.h"

int main(int argc, char** argv) {
  int brokers = 1;
  std::vector<ps::ingestion::TopicSpec> topics;
  std::string bootstrap_file;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      if (arg == "--brokers") brokers = std::stoi(argv[++i]);
      else if (arg == "--topic") topics.push_back(ps::ingestion::parse_topic_spec(argv[++i]));
      else if (arg == "--bootstrap-file") bootstrap_file = argv[++i];
      else throw std::invalid_argument("unknown argument " + arg);
    }
  } catch (const std::exception& e) {
    std::cerr << "test-kafka-broker: " << e.what() << "\n";
    return 2;
  }

  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  try {
    ps::ingestion::MockBroker broker(brokers, topics);
    if (!bootstrap_file.empty()) {
      std::ofstream out(bootstrap_file + ".tmp");
      out << broker.bootstrap() << "\n";
      out.close();
      std::rename((bootstrap_file + ".tmp").c_str(), bootstrap_file.c_str());
    }
    std::cout << broker.bootstrap() << std::endl;
    for (;;) {
      int sig = 0;
      sigwait(&signals, &sig);
      if (sig == SIGUSR1) broker.set_down(true);
      else if (sig == SIGUSR2) broker.set_down(false);
      else if (sig == SIGHUP) broker.refuse_next_produce();
      else break;
    }
  } catch (const std::exception& e) {
    std::cerr << "test-kafka-broker: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
