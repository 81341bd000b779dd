// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC721Upgradeable} from "@openzeppelin/contracts-upgradeable/token/ERC721/ERC721Upgradeable.sol";
import {OwnableUpgradeable} from "@openzeppelin/contracts-upgradeable/access/OwnableUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";

/// @title DatasetNFT: one ERC-721 token per dataset
/// @notice tokenURI is `ipfs://<metadata CID>`. Whoever holds a token is its dataset's revenue beneficiary:
///         the PaymentRouter pays the creator share to `ownerOf(id)` at the moment of each sale, so selling
///         the token sells the income stream. Tokens are minted only by the minter (the DatasetRegistry, which
///         also guards slugs and who may change metadata). UUPS proxy; only the owner can upgrade.
contract DatasetNFT is Initializable, ERC721Upgradeable, OwnableUpgradeable, UUPSUpgradeable {
    address public minter;
    uint256 public totalMinted;
    mapping(uint256 tokenId => string cid) private _metadataCid;

    event MinterChanged(address indexed minter);
    event MetadataUpdate(uint256 tokenId); // ERC-4906, so marketplaces refresh

    error NotMinter(address caller);
    error EmptyMetadata();

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    function initialize(address initialOwner, address initialMinter) external initializer {
        __ERC721_init("Cluster Dataset", "CDS");
        __Ownable_init(initialOwner);
        minter = initialMinter;
        emit MinterChanged(initialMinter);
    }

    modifier onlyMinter() {
        if (msg.sender != minter) revert NotMinter(msg.sender);
        _;
    }

    function setMinter(address newMinter) external onlyOwner {
        minter = newMinter;
        emit MinterChanged(newMinter);
    }

    /// @return tokenId ids start at 1, so 0 can mean "no dataset" everywhere else.
    function mint(address to, string calldata metadataCid) external onlyMinter returns (uint256 tokenId) {
        if (bytes(metadataCid).length == 0) revert EmptyMetadata();
        tokenId = ++totalMinted;
        _metadataCid[tokenId] = metadataCid;
        _safeMint(to, tokenId);
    }

    /// @notice Retire a dataset's token (the registry checks the holder first). Buyers keep their access records.
    function burn(uint256 tokenId) external onlyMinter {
        _burn(tokenId);
        delete _metadataCid[tokenId];
    }

    function setMetadata(uint256 tokenId, string calldata metadataCid) external onlyMinter {
        _requireOwned(tokenId);
        if (bytes(metadataCid).length == 0) revert EmptyMetadata();
        _metadataCid[tokenId] = metadataCid;
        emit MetadataUpdate(tokenId);
    }

    function metadataCid(uint256 tokenId) external view returns (string memory) {
        _requireOwned(tokenId);
        return _metadataCid[tokenId];
    }

    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        _requireOwned(tokenId);
        return string.concat("ipfs://", _metadataCid[tokenId]);
    }

    function version() external pure virtual returns (string memory) {
        return "1";
    }

    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == bytes4(0x49064906) || super.supportsInterface(interfaceId);
    }

    function _authorizeUpgrade(address) internal override onlyOwner {}
}
