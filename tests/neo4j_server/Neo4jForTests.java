import java.nio.file.Path;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;

/**
 * A Neo4j Community DBMS for the test suite: Bolt on 127.0.0.1:PORT, auth on with the password given, sized for
 * a 2-core machine. Prints "ready" once the neo4j database answers, then serves until the process is stopped.
 *
 * Usage: java -cp 'lib/*:classes' Neo4jForTests HOME PORT PASSWORD
 */
public final class Neo4jForTests {
    public static void main(String[] args) throws InterruptedException {
        Path home = Path.of(args[0]);
        int port = Integer.parseInt(args[1]);
        String password = args[2];
        DatabaseManagementServiceBuilder builder = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port))
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .setConfig(GraphDatabaseSettings.auth_enabled, true)
                .setConfig(GraphDatabaseSettings.pagecache_memory, Long.getLong("neo4j.pagecache.mb", 512L) * 1024 * 1024)
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false);
        Long transactionMemoryMb = Long.getLong("neo4j.transaction.memory.mb");  // a smaller limit, for tests
        if (transactionMemoryMb != null) {
            builder.setConfig(GraphDatabaseSettings.memory_transaction_global_max_size, transactionMemoryMb * 1024 * 1024);
        }
        DatabaseManagementService dbms = builder.build();
        Runtime.getRuntime().addShutdownHook(new Thread(dbms::shutdown));
        dbms.database("system").executeTransactionally(
                "ALTER USER neo4j SET PASSWORD '" + password.replace("'", "") + "' CHANGE NOT REQUIRED");
        dbms.database("neo4j").executeTransactionally("RETURN 1");
        System.out.println("ready");
        System.out.flush();
        Thread.currentThread().join();
    }
}
