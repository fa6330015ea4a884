import { KafkaJSNonRetriableError, KafkaJSProtocolError } from 'kafkajs';
import { ProducerFailed, producerFailure } from './producer-handle';
import { isRetriable } from './retriable';

function protocolError(type: string, code: number): KafkaJSProtocolError {
  return new KafkaJSProtocolError(Object.assign(new Error(type), { type, code, retriable: false }));
}

describe('the failure of a send on a producer that is then replaced', () => {
  it('given a fenced producer or an unknown producer id after a broker restart, then it is a retriable ProducerFailed with the failure as cause', () => {
    for (const failure of [
      protocolError('PRODUCER_FENCED', 90),
      protocolError('UNKNOWN_PRODUCER_ID', 59),
      Object.assign(
        new KafkaJSNonRetriableError(protocolError('OUT_OF_ORDER_SEQUENCE_NUMBER', 45)),
        {
          cause: protocolError('OUT_OF_ORDER_SEQUENCE_NUMBER', 45),
        },
      ),
    ]) {
      expect(isRetriable(failure)).toBe(false);
      const seen = producerFailure(failure);
      expect(seen).toBeInstanceOf(ProducerFailed);
      expect(seen).toMatchObject({
        code: 'CATCHALL_PRODUCER_FAILED',
        retriable: true,
        cause: failure,
      });
      expect(isRetriable(seen)).toBe(true);
    }
  });

  it('leaves a refusal for good, a retriable failure and a programmer error as they are', () => {
    const tooLarge = protocolError('MESSAGE_TOO_LARGE', 10);
    const leaderMoving = new KafkaJSProtocolError(
      Object.assign(new Error('leader moving'), {
        type: 'NOT_LEADER_OR_FOLLOWER',
        code: 6,
        retriable: true,
      }),
    );
    const bug = new TypeError('cannot read properties of undefined');
    for (const failure of [tooLarge, leaderMoving, bug]) {
      expect(producerFailure(failure)).toBe(failure);
    }
  });
});
