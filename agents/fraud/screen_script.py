"""The Lua of screening's batch script (``screening.Screener``): the stores' own functions
(``OBSERVE_FUNCTION``, ``RECORD_FUNCTION``, ``BEHAVE_FUNCTION``, the profiles' reader) are
prepended to it. Its arguments: a header of 18 values, then each part's own."""

#: One round trip per batch: the profile fields of every customer, the velocity
#: observation of every located payment, every payment into its card's last ones (each
#: store's own Lua function, prepended), the card-testing window of every small online
#: payment and, with the features, the behaviour of each payment and each card's review flag.
SCREEN_BATCH = r"""
local n_users, n_located, n_testing = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local card_ttl, window_ms, testing_ttl = ARGV[4], tonumber(ARGV[5]), ARGV[6]
local n_behave, behave_ttl, dedupe, horizon = tonumber(ARGV[7]), ARGV[8], ARGV[9], ARGV[10]
local delay, label_ttl, n_flags = tonumber(ARGV[11]), ARGV[12], tonumber(ARGV[13])
local P, n_recent = ARGV[14], tonumber(ARGV[15])
local out, k, a = {}, n_users + 1, 19
read_profiles(1, n_users, out)
for _ = 1, n_located do
  out[#out + 1] = observe(KEYS[k], KEYS[k + 1], ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3],
                          card_ttl)
  k, a = k + 2, a + 4
end
for _ = 1, n_testing do
  local ms = tonumber(ARGV[a + 1])
  redis.call("ZADD", KEYS[k], ms, ARGV[a])
  out[#out + 1] = redis.call("ZCOUNT", KEYS[k], ms - window_ms, ms)
  redis.call("EXPIRE", KEYS[k], testing_ttl)
  k, a = k + 1, a + 2
end
a = record_recent(ARGV[16], n_recent, tonumber(ARGV[17]), ARGV[18], a)
local parsed = {}
for i = 1, n_behave do parsed[i] = fields(ARGV[a + i - 1]) end
if n_flags > 0 then  -- each card's review flag
  local flags = {}
  for i = 1, n_flags do flags[i] = P .. ":flag:" .. parsed[i][5] end
  local got = redis.call("MGET", unpack(flags))
  for i = 1, n_flags do out[#out + 1] = got[i] or "" end
end
behave_batch(P, parsed, n_behave, behave_ttl, dedupe, tonumber(horizon), delay, label_ttl, out)
return out
"""
