/**
 * The logic of the `usePayments` React hook, without React: state (loading, error, balance, the
 * deposit in progress) and the operations that change it, observable the way React's
 * `useSyncExternalStore` expects (`subscribe` + an immutable `getSnapshot`).
 *
 * What it fixes in the spec's hook: the error is the API's message (`throw new Error(data.error)`
 * gave "[object Object]"); the token comes from the client, not an undefined global; the gateway
 * is the payment method's unless asked for; `loading` stays true while any call is in flight
 * (not only the first to finish); amounts are decimal strings, never numbers; every POST carries
 * an Idempotency-Key, so a retry cannot start a second deposit.
 */
import type {
  Balance,
  DepositConfirmation,
  DepositConfirmed,
  DepositInitiated,
  DepositRequest,
  PaymentsClient,
} from "./client.js";
import type { Amount } from "./money.js";

export interface PaymentsState {
  /** True while any operation of this controller is in flight. */
  readonly loading: boolean;
  /** The last operation's failure (a PaymentsApiError, PaymentsNetworkError or AmountError), cleared
   * when the next one starts. Its `message` is the one to show. */
  readonly error: Error | null;
  /** The last balance read (after every confirmed deposit too), null before the first. */
  readonly balance: Balance | null;
  /** The deposit started and not yet confirmed: its `checkout_url`, `order_id`, `key`. */
  readonly deposit: DepositInitiated | null;
}

/** `gateway`: another than the payment method's (`razorpay`, `stripe`, `mock`). */
export type DepositOptions = Pick<DepositRequest, "gateway" | "description"> & {
  /** Reuse a key to make a retry across page loads safe; by default one per call. */
  idempotencyKey?: string;
};

/** What the gateway's checkout hands back; `transaction_id` defaults to the deposit in progress. */
export type Confirmation = Omit<DepositConfirmation, "transaction_id"> & { transaction_id?: string };

const INITIAL: PaymentsState = { loading: false, error: null, balance: null, deposit: null };

export class PaymentsController {
  private state: PaymentsState = INITIAL;
  private pending = 0;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly client: PaymentsClient) {}

  readonly getSnapshot = (): PaymentsState => this.state;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Start a deposit of `amount` (a decimal string, "1000.50") with a stored payment method. */
  readonly initiateDeposit = (amount: Amount, paymentMethodId: string, options: DepositOptions = {}) => {
    const { idempotencyKey, ...rest } = options;
    return this.run(async () => {
      const deposit = await this.client.initiateDeposit(
        { amount, payment_method_id: paymentMethodId, ...rest },
        { idempotencyKey },
      );
      this.update({ deposit });
      return deposit;
    });
  };

  /** Confirm a paid deposit with the gateway's proof, then read the balance it changed. A failed
   * balance read lands in `error` but does not fail the confirmation: the deposit is confirmed. */
  readonly confirm = (confirmation: Confirmation): Promise<DepositConfirmed> =>
    this.run(async () => {
      const transactionId = confirmation.transaction_id ?? this.state.deposit?.transaction_id;
      if (transactionId === undefined) {
        throw new Error("no deposit to confirm: initiate one first or pass transaction_id");
      }
      const confirmed = await this.client.confirmDeposit({ ...confirmation, transaction_id: transactionId });
      if (this.state.deposit?.transaction_id === transactionId) {
        this.update({ deposit: null });
      }
      await this.refreshBalance().catch(() => undefined);
      return confirmed;
    });

  readonly refreshBalance = (): Promise<Balance> =>
    this.run(async () => {
      const balance = await this.client.getBalance();
      this.update({ balance });
      return balance;
    });

  readonly clearError = (): void => this.update({ error: null });

  /** Runs one operation: loading while any runs; its error kept in state and thrown to the caller. */
  private async run<T>(operation: () => Promise<T>): Promise<T> {
    this.pending += 1;
    this.update({ loading: true, error: null });
    try {
      return await operation();
    } catch (error) {
      this.update({ error: error instanceof Error ? error : new Error(String(error)) });
      throw error;
    } finally {
      this.pending -= 1;
      this.update({ loading: this.pending > 0 });
    }
  }

  private update(change: Partial<PaymentsState>): void {
    const next = { ...this.state, ...change };
    if ((Object.keys(change) as (keyof PaymentsState)[]).every((key) => next[key] === this.state[key])) {
      return;
    }
    this.state = next;
    for (const listener of this.listeners) {
      listener();
    }
  }
}
