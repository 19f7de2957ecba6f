CREATE TABLE audit (
	id INTEGER NOT NULL, 
	user_id INTEGER NOT NULL, 
	action VARCHAR(32) NOT NULL, 
	object_type VARCHAR(32) NOT NULL, 
	object_id VARCHAR(64) NOT NULL, 
	created DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_audit_user_id ON audit (user_id);
CREATE TABLE usage (
	id INTEGER NOT NULL, 
	user_id INTEGER NOT NULL, 
	seconds FLOAT NOT NULL, 
	created DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_usage_user_id ON usage (user_id);
CREATE INDEX ix_usage_created ON usage (created);
CREATE TABLE users (
	id INTEGER NOT NULL, 
	name VARCHAR(64) NOT NULL, 
	created DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);
CREATE TABLE sessions (
	id VARCHAR(32) NOT NULL, 
	user_id INTEGER NOT NULL, 
	title VARCHAR(200) NOT NULL, 
	created DATETIME NOT NULL, 
	updated DATETIME NOT NULL, 
	spec JSON NOT NULL, 
	state JSON NOT NULL, 
	segments_done INTEGER NOT NULL, 
	sample_rate INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX ix_sessions_user_id ON sessions (user_id);
CREATE TABLE tokens (
	id INTEGER NOT NULL, 
	user_id INTEGER NOT NULL, 
	digest VARCHAR(64) NOT NULL, 
	created DATETIME NOT NULL, 
	revoked BOOLEAN NOT NULL, 
	expires DATETIME, 
	PRIMARY KEY (id), 
	FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE, 
	UNIQUE (digest)
);
CREATE INDEX ix_tokens_user_id ON tokens (user_id);
CREATE TABLE jobs (
	id VARCHAR(32) NOT NULL, 
	user_id INTEGER NOT NULL, 
	session_id VARCHAR(32), 
	kind VARCHAR(32) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	total INTEGER NOT NULL, 
	done INTEGER NOT NULL, 
	error VARCHAR(500), 
	created DATETIME NOT NULL, 
	updated DATETIME NOT NULL, 
	deadline DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE, 
	FOREIGN KEY(session_id) REFERENCES sessions (id) ON DELETE CASCADE
);
CREATE INDEX ix_jobs_session_id ON jobs (session_id);
CREATE INDEX ix_jobs_user_id ON jobs (user_id);
CREATE TABLE messages (
	id INTEGER NOT NULL, 
	session_id VARCHAR(32) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	sealed BLOB NOT NULL, 
	created DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(session_id) REFERENCES sessions (id) ON DELETE CASCADE
);
CREATE INDEX ix_messages_session_id ON messages (session_id);
CREATE TABLE readings (
	id INTEGER NOT NULL, 
	session_id VARCHAR(32) NOT NULL, 
	sealed BLOB NOT NULL, 
	created DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(session_id) REFERENCES sessions (id) ON DELETE CASCADE
);
CREATE INDEX ix_readings_session_id ON readings (session_id);
CREATE TABLE segments (
	id INTEGER NOT NULL, 
	session_id VARCHAR(32) NOT NULL, 
	"index" INTEGER NOT NULL, 
	record JSON NOT NULL, 
	created DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(session_id) REFERENCES sessions (id) ON DELETE CASCADE
);
CREATE INDEX ix_segments_session_id ON segments (session_id);
