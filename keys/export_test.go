package keys

// For the external tests: the PostgreSQL rewrites of placeholders and
// migrations, and the webhook marker's place.
var (
	NumberPlaceholders = numberPlaceholders
	PostgresSchema     = postgresDialect{}.schema
	WebhookMarker      = webhookMarker
)

// PostgresWriteLock is the advisory lock key every write transaction
// takes on PostgreSQL.
const PostgresWriteLock = pgWriteLock
