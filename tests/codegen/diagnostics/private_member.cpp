#include "instadump_stub.h"
class Account {
 public:
  int id = 0;
 private:
  long balance_ = 0;  // expect-error: cannot persist bank::account → Account::balance_: the member is private; make it public, or mark 'Account' [[instadump::persist_private]]
};
namespace bank {
[[instadump::state]] instadump::ref<Account> account;
}
