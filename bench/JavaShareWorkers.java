import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * The baseline of the queue benchmark: WORKERS Java share consumers
 * (KafkaShareConsumer, one thread each, one record per poll) in share group
 * GROUP, each taking HANDLER_MS per record and accepting it.
 * java -cp 'kafka/.cache/VERSION/lib/*' bench/JavaShareWorkers.java BOOTSTRAP GROUP TOPIC WORKERS HANDLER_MS SECONDS
 * Prints {"ready": true} once every worker has polled, then after SECONDS
 * of work {"accepted": N, "seconds": S}.
 */
public class JavaShareWorkers {
  public static void main(String[] args) throws Exception {
    int workers = Integer.parseInt(args[3]);
    long handlerMs = Long.parseLong(args[4]);
    long seconds = Long.parseLong(args[5]);
    AtomicInteger accepted = new AtomicInteger();
    AtomicInteger ready = new AtomicInteger();
    List<Thread> threads = new ArrayList<>();
    AtomicBoolean counting = new AtomicBoolean();
    AtomicBoolean stop = new AtomicBoolean();
    for (int w = 0; w < workers; w++) {
      Thread thread = new Thread(() -> {
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        props.put("group.id", args[1]);
        props.put("share.acknowledgement.mode", "explicit");
        props.put("max.poll.records", "1");
        props.put("key.deserializer", ByteArrayDeserializer.class.getName());
        props.put("value.deserializer", ByteArrayDeserializer.class.getName());
        try (KafkaShareConsumer<byte[], byte[]> consumer = new KafkaShareConsumer<>(props)) {
          consumer.subscribe(List.of(args[2]));
          boolean first = true;
          while (!stop.get()) {
            var records = consumer.poll(Duration.ofMillis(100));
            if (first) {
              first = false;
              ready.incrementAndGet();
            }
            for (var record : records) {
              Thread.sleep(handlerMs);
              consumer.acknowledge(record, AcknowledgeType.ACCEPT);
              if (counting.get()) accepted.incrementAndGet();
            }
            if (!records.isEmpty()) consumer.commitAsync();
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      thread.setDaemon(true);
      thread.start();
      threads.add(thread);
    }
    while (ready.get() < workers) Thread.sleep(50);
    System.out.println("{\"ready\": true}");
    System.out.flush();
    // Members settle before the window opens, as the gateway's workers do.
    Thread.sleep(3000);
    long started = System.nanoTime();
    counting.set(true);
    Thread.sleep(seconds * 1000);
    int count = accepted.get();
    double elapsed = (System.nanoTime() - started) / 1e9;
    stop.set(true);
    System.out.println("{\"accepted\": " + count + ", \"seconds\": " + elapsed + "}");
    System.out.flush();
    System.exit(0);
  }
}
