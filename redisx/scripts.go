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
		// KEYS[1] record (its key names the user), KEYS[2] user index; ARGV[1]
		// runtime id. Returns 1 if deleted.
		deleteRuntime: redis.NewScript(`
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
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
