package redisx

import "github.com/redis/go-redis/v9"

// scripts are the Lua scripts that make multi-step operations atomic.
type scripts struct {
	deleteRuntime *redis.Script
	putList       *redis.Script
	begin         *redis.Script
	release       *redis.Script
}

func newScripts() scripts {
	return scripts{
		// KEYS[1] record, KEYS[2] user index; ARGV[1] user id, ARGV[2] runtime id.
		// Deletes the record only if it is the user's. Returns 1 if deleted.
		deleteRuntime: redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ok, d = pcall(cjson.decode, v)
if not ok or type(d) ~= 'table' or d['user_id'] ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1`),
		// KEYS[1] generation, KEYS[2] cached list; ARGV[1] stamp, ARGV[2] doc, ARGV[3] ttl ms.
		// Stores the list only while the generation still equals the stamp.
		putList: redis.NewScript(`
local g = redis.call('GET', KEYS[1]) or '0'
if g ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
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
