import { Partitioners, type ICustomPartitioner } from 'kafkajs';

/**
 * kafkajs's default partitioner (the Java client's murmur2 of the key), writing the partition
 * it chooses into `message.partition`, so that the sender knows where each record went: a
 * produce response gives one base offset per partition, and kafkajs groups a send's messages
 * per partition in the order given (groupMessagesPerPartition), one record batch per partition,
 * whose records the broker numbers from that base offset in that order. A message whose
 * `partition` is set keeps it, as with the default partitioner; a send kafkajs retries
 * partitions the same message again and finds the same partition.
 */
export const recordingPartitioner: ICustomPartitioner = () => {
  const choose = Partitioners.DefaultPartitioner();
  return (args) => {
    const partition = choose(args);
    args.message.partition = partition;
    return partition;
  };
};
