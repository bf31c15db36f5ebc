export {
  type Balance,
  createPaymentsClient,
  type DepositConfirmation,
  type DepositConfirmed,
  type DepositInitiated,
  type DepositRequest,
  type Health,
  type MockPayment,
  type NewPaymentMethod,
  type PaymentMethod,
  type PaymentsClient,
  type PaymentsClientOptions,
  type PostOptions,
  type Refund,
  type RefundRequest,
  type Transaction,
  type TransactionPage,
  type TransactionQuery,
  unwrap,
  type WithdrawalRequest,
  type WithdrawalStarted,
  type WithdrawalStatus,
} from "./client.js";
export { type ErrorEnvelope, PaymentsApiError, PaymentsNetworkError } from "./errors.js";
export {
  addAmounts,
  type Amount,
  AmountError,
  compareAmounts,
  fromMinorUnits,
  MINOR_DIGITS,
  normalizeAmount,
  toMinorUnits,
  toMinorUnitsNumber,
} from "./money.js";
export {
  type Confirmation,
  type DepositOptions,
  PaymentsController,
  type PaymentsState,
} from "./paymentsController.js";
export type { components, operations, paths, webhooks } from "./schema.js";
export type { RetryOptions } from "./transport.js";
export type { DomainEvent, DomainEventType } from "./events.js";
