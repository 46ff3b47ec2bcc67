package redisx

import "github.com/redis/go-redis/v9"

// scripts are the Lua scripts that make multi-step operations atomic.
type scripts struct {
	deleteRuntime *redis.Script
	putList       *redis.Script
	updateList    *redis.Script
	begin         *redis.Script
	release       *redis.Script
}

func newScripts() scripts {
	return scripts{
		// KEYS[1] record (its key names the user), KEYS[2] user index; ARGV[1]
		// runtime id. Returns 1 if deleted.
		deleteRuntime: redis.NewScript(`
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
return 1`),
		// KEYS[1] generation, KEYS[2] cached list (a hash: '@gen' the tag,
		// every other field a secret id -> its JSON); ARGV[1] stamp, ARGV[2]
		// ttl ms, then id, JSON pairs. Stores the list, tagged with the stamp,
		// only while the generation still equals the stamp.
		putList: redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], '@gen', ARGV[1])
for i = 3, #ARGV, 200 do
  redis.call('HSET', KEYS[2], unpack(ARGV, i, math.min(i + 199, #ARGV)))
end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1`),
		// KEYS[1] generation, KEYS[2] cached list; ARGV[1] stamp, ARGV[2]
		// secret id, ARGV[3] its JSON ('' when deleted), ARGV[4] its version,
		// ARGV[5] generation ttl ms, ARGV[6] a random start for a missing
		// generation. Bumps the generation; changes the list
		// in place (retagging it) only when the old generation and the list's
		// tag both equal the stamp, else drops it. An entry with a higher
		// version is kept. Returns 1 when changed in place.
		updateList: redis.NewScript(`
local g = redis.call('GET', KEYS[1])
if not g then redis.call('SET', KEYS[1], ARGV[6]) end
redis.call('INCR', KEYS[1])
local n = redis.call('GET', KEYS[1]) -- a string: Lua numbers are doubles
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if g ~= ARGV[1] or redis.call('HGET', KEYS[2], '@gen') ~= ARGV[1] then
  redis.call('DEL', KEYS[2])
  return 0
end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[2], ARGV[2])
else
  local cur = redis.call('HGET', KEYS[2], ARGV[2])
  if not cur or tonumber(cjson.decode(cur).version) <= tonumber(ARGV[4]) then
    redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  end
end
redis.call('HSET', KEYS[2], '@gen', n)
return 1`),
		// KEYS[1] idempotency key; ARGV[1] pending marker, ARGV[2] ttl ms.
		// Returns 1 when claimed, else the stored document.
		begin: redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return redis.call('GET', KEYS[1])`),
		// KEYS[1] idempotency key; ARGV[1] pending marker. Drops the key only while pending.
		release: redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`),
	}
}
