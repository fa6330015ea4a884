-- The schema registry keeps its schemas in a database of its own on the same server.
CREATE DATABASE registry OWNER catchall;
