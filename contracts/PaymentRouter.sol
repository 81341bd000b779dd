// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {OwnableUpgradeable} from "@openzeppelin/contracts-upgradeable/access/OwnableUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {DatasetRegistry} from "./DatasetRegistry.sol";
import {IUSDC} from "./interfaces/IUSDC.sol";

/// @title PaymentRouter: dataset sales, split on chain
/// @notice A purchase pays the dataset's registry price in USDC and splits it in the same transaction:
///         85% to the dataset NFT's current holder, 10% to the treasury, 5% to the referrer (to the treasury
///         when there is no referrer, or the buyer names themselves). The shares are constants: no caller can
///         change them. Shares are floored and the holder takes the remainder, so every unit is paid out.
///         Three ways to pay: `purchase` (after approve), `purchaseWithPermit` (EIP-2612, one transaction) and
///         `purchaseWithAuthorization` (EIP-3009, gasless: anyone may relay it, because the signed nonce
///         commits to the dataset and referrer, see `purchaseNonce`).
contract PaymentRouter is Initializable, OwnableUpgradeable, PausableUpgradeable, UUPSUpgradeable, ReentrancyGuardTransient {
    using SafeERC20 for IUSDC;

    uint256 public constant BPS = 10_000;
    uint256 public constant CREATOR_BPS = 8_500;
    uint256 public constant TREASURY_BPS = 1_000;
    uint256 public constant REFERRER_BPS = 500;

    IUSDC public usdc;
    DatasetRegistry public registry;
    address public treasury;
    mapping(address buyer => mapping(uint256 datasetId => bool)) private _access;
    mapping(uint256 datasetId => uint256) public purchaseCount;

    event Purchased(
        uint256 indexed datasetId,
        address indexed buyer,
        address indexed referrer,
        address beneficiary,
        uint256 price,
        uint256 creatorAmount,
        uint256 treasuryAmount,
        uint256 referrerAmount
    );
    event TreasuryChanged(address indexed treasury);

    error AlreadyPurchased(address buyer, uint256 datasetId);
    error NotForSale(uint256 datasetId);
    error NotBuyer(address caller, address buyer);
    error NonceMismatch(bytes32 expected, bytes32 given);
    error ZeroAddress();

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    function initialize(address initialOwner, IUSDC usdc_, DatasetRegistry registry_, address treasury_)
        external
        initializer
    {
        if (address(usdc_) == address(0) || address(registry_) == address(0) || treasury_ == address(0)) {
            revert ZeroAddress();
        }
        __Ownable_init(initialOwner);
        __Pausable_init();
        usdc = usdc_;
        registry = registry_;
        treasury = treasury_;
        emit TreasuryChanged(treasury_);
    }

    // -- buying ------------------------------------------------------------------------------------
    /// @notice Buy access for msg.sender, paying from msg.sender's USDC allowance to this contract.
    function purchase(uint256 datasetId, address referrer) external whenNotPaused nonReentrant {
        _purchase(datasetId, msg.sender, msg.sender, referrer);
    }

    /// @notice Buy access for `buyer`, paid by msg.sender (gifts; services that collected payment elsewhere).
    function purchaseFor(uint256 datasetId, address buyer, address referrer) external whenNotPaused nonReentrant {
        if (buyer == address(0)) revert ZeroAddress();
        _purchase(datasetId, msg.sender, buyer, referrer);
    }

    /// @notice Approve and buy in one transaction. The buyer must send it: a permit does not say which dataset
    ///         it is for, so a relayer could spend it on another one. For relayed purchases use the EIP-3009 form.
    function purchaseWithPermit(
        uint256 datasetId,
        address referrer,
        uint256 value,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external whenNotPaused nonReentrant {
        // A permit already used (e.g. seen in the mempool and front-run) must not block the purchase.
        try usdc.permit(msg.sender, address(this), value, deadline, v, r, s) {} catch {}
        _purchase(datasetId, msg.sender, msg.sender, referrer);
    }

    /// @notice Buy with a signed EIP-3009 ReceiveWithAuthorization (to = this contract, value = the price).
    ///         Anyone may submit it. `nonce` must equal `purchaseNonce(datasetId, referrer, salt)`, so the
    ///         signature pays for this dataset and referrer and nothing else.
    function purchaseWithAuthorization(
        uint256 datasetId,
        address buyer,
        address referrer,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 salt,
        bytes calldata signature
    ) external whenNotPaused nonReentrant {
        bytes32 nonce = purchaseNonce(datasetId, referrer, salt);
        uint256 price = _priceFor(datasetId, buyer);
        usdc.receiveWithAuthorization(buyer, address(this), price, validAfter, validBefore, nonce, signature);
        _settle(datasetId, address(this), buyer, referrer, price);
    }

    function purchaseNonce(uint256 datasetId, address referrer, bytes32 salt) public view returns (bytes32) {
        return keccak256(abi.encode(block.chainid, address(this), datasetId, referrer, salt));
    }

    // -- reading -----------------------------------------------------------------------------------
    function hasAccess(address buyer, uint256 datasetId) external view returns (bool) {
        return _access[buyer][datasetId];
    }

    /// @return creatorAmount to the holder, treasuryAmount, referrerAmount; they always sum to `price`.
    function splitOf(uint256 price, bool hasReferrer)
        public
        pure
        returns (uint256 creatorAmount, uint256 treasuryAmount, uint256 referrerAmount)
    {
        referrerAmount = (price * REFERRER_BPS) / BPS;
        treasuryAmount = (price * TREASURY_BPS) / BPS;
        if (!hasReferrer) {
            treasuryAmount += referrerAmount;
            referrerAmount = 0;
        }
        creatorAmount = price - treasuryAmount - referrerAmount;
    }

    // -- admin -------------------------------------------------------------------------------------
    function setTreasury(address treasury_) external onlyOwner {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
        emit TreasuryChanged(treasury_);
    }

    function pause() external onlyOwner {
        _pause();
    }

    function unpause() external onlyOwner {
        _unpause();
    }

    function version() external pure virtual returns (string memory) {
        return "1";
    }

    // -- internals ---------------------------------------------------------------------------------
    function _purchase(uint256 datasetId, address payer, address buyer, address referrer) internal {
        uint256 price = _priceFor(datasetId, buyer);
        _settle(datasetId, payer, buyer, referrer, price);
    }

    function _priceFor(uint256 datasetId, address buyer) internal view returns (uint256 price) {
        if (_access[buyer][datasetId]) revert AlreadyPurchased(buyer, datasetId);
        price = registry.priceOf(datasetId);
        if (price == 0) revert NotForSale(datasetId);
    }

    /// @dev `from` is the payer, or this contract when the funds were already received.
    function _settle(uint256 datasetId, address from, address buyer, address referrer, uint256 price) internal {
        if (referrer == buyer) referrer = address(0);
        bool hasReferrer = referrer != address(0);
        (uint256 creatorAmount, uint256 treasuryAmount, uint256 referrerAmount) = splitOf(price, hasReferrer);
        address beneficiary = registry.beneficiaryOf(datasetId);
        _access[buyer][datasetId] = true;
        purchaseCount[datasetId] += 1;
        _pay(from, beneficiary, creatorAmount);
        _pay(from, treasury, treasuryAmount);
        _pay(from, referrer, referrerAmount);
        emit Purchased(datasetId, buyer, referrer, beneficiary, price, creatorAmount, treasuryAmount, referrerAmount);
    }

    function _pay(address from, address to, uint256 amount) internal {
        if (amount == 0) return;
        if (from == address(this)) usdc.safeTransfer(to, amount);
        else usdc.safeTransferFrom(from, to, amount);
    }

    function _authorizeUpgrade(address) internal override onlyOwner {}
}
